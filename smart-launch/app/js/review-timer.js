/**
 * Clinician time on each case (99451 needs at least 5 minutes documented): counts while the case
 * is open and the page visible, across visits in this session; the total goes into the review's
 * `review-minutes` answer, which the reviewer can correct.
 */
const totals = new Map();
let running;

export function startTimer(taskId) {
  stopTimer();
  running = { taskId, since: document.visibilityState === 'visible' ? Date.now() : undefined };
}

export function stopTimer() {
  if (running?.since !== undefined) totals.set(running.taskId, (totals.get(running.taskId) ?? 0) + Date.now() - running.since);
  running = undefined;
}

export function elapsedMs(taskId) {
  const live = running?.taskId === taskId && running.since !== undefined ? Date.now() - running.since : 0;
  return (totals.get(taskId) ?? 0) + live;
}

export const minutesOn = (taskId) => Math.max(1, Math.round(elapsedMs(taskId) / 60000));

document.addEventListener('visibilitychange', () => {
  if (!running) return;
  if (document.visibilityState === 'hidden' && running.since !== undefined) {
    totals.set(running.taskId, (totals.get(running.taskId) ?? 0) + Date.now() - running.since);
    running.since = undefined;
  } else if (document.visibilityState === 'visible' && running.since === undefined) {
    running.since = Date.now();
  }
});
