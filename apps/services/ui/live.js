// Live updates: EventSource('/v2/events'). Marathon names every event
// (`event: <type>`), so a listener is added per type; each event (and each
// (re)open) calls onChange, which the app coalesces into one re-read of the
// view's data. On an error the stream is closed and reopened after a
// back-off (1 s doubling to 30 s); meanwhile the view is re-read every 5 s.

export const EVENT_TYPES = [
  'api_post_event', 'status_update_event', 'instance_changed_event', 'unknown_instance_terminated_event',
  'instance_health_changed_event', 'health_status_changed_event', 'failed_health_check_event',
  'unhealthy_instance_kill_event', 'add_health_check_event', 'remove_health_check_event', 'deployment_info',
  'deployment_step_success', 'deployment_step_failure', 'deployment_success', 'deployment_failed',
  'group_change_success', 'group_change_failed', 'app_terminated_event', 'scheduler_registered_event',
  'scheduler_reregistered_event', 'scheduler_disconnected_event',
];

// onChange(eventType or 'open' or 'poll'); onState('events'|'connecting'|'polling').
export function startLive(onChange, onState) {
  let es = null;
  let backoff = 1000;
  let retry = null;
  let poll = null;
  let stopped = false;

  const startPolling = () => {
    if (!poll) poll = setInterval(() => onChange('poll'), 5000);
  };
  const stopPolling = () => {
    if (poll) clearInterval(poll);
    poll = null;
  };

  const open = () => {
    if (stopped) return;
    onState('connecting');
    es = new EventSource('/v2/events');
    es.onopen = () => {
      backoff = 1000;
      stopPolling();
      onState('events');
      onChange('open');
    };
    const handler = (e) => onChange(e.type);
    for (const t of EVENT_TYPES) es.addEventListener(t, handler);
    es.onmessage = handler;
    es.onerror = () => {
      es.close();
      es = null;
      onState('polling');
      startPolling();
      retry = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  };
  open();
  return () => {
    stopped = true;
    stopPolling();
    if (retry) clearTimeout(retry);
    if (es) es.close();
  };
}
