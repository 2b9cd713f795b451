// `npm run demo -- --cluster`: the faults injected into the clustered example service while the traffic runs,
// and what Prometheus made of them. Plain JavaScript with no dependencies, like the rest of examples/lib.
import { clusterWorkers } from './stack.mjs';

const FREEZE_MS = 2500;
/** How long a freeze may be drawn out while Prometheus has not yet seen it (scrapes and rule evaluations race it). */
const FREEZE_MAX_MS = 8000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

function signal(pid, name) {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false; // it exited on its own meanwhile
  }
}

/**
 * At 30% of the traffic, freezes one worker with SIGSTOP for 2.5 s (past the primary's 500 ms timeout: it is
 * served stale); at 60%, SIGKILLs another one (the primary starts a new worker, from zero). `log` gets a line
 * per fault. The freeze lasts until `seen()` resolves true too (at most 8 s), so that Prometheus has scraped and
 * evaluated the frozen state however the scrapes fall. Returns the faults done so far (`events`), `done`
 * (resolves after the last one), and `cancel()`, which also thaws a frozen worker: a stopped process cannot be
 * stopped.
 */
export function scheduleFaults(service, durationMs, log, seen = async () => true) {
  const started = Date.now();
  const events = [];
  const freezeMs = Math.min(FREEZE_MS, durationMs * 0.25);
  let frozen;
  let cancelled = false;
  const until = (fraction) => sleep(started + durationMs * fraction - Date.now());
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const thaw = () => {
    if (frozen !== undefined) signal(frozen.pid, 'SIGCONT');
    frozen = undefined;
  };
  const done = (async () => {
    await until(0.3);
    const [victim] = clusterWorkers(service);
    if (cancelled || victim === undefined || !signal(victim.pid, 'SIGSTOP')) return;
    frozen = victim;
    const freeze = { what: 'frozen', ...victim, at: seconds(), forMs: freezeMs };
    events.push(freeze);
    log(
      `${seconds()}: worker ${victim.id} (pid ${victim.pid}) frozen with SIGSTOP for ${freezeMs / 1000} s (longer until Prometheus has seen it)`,
    );
    const frozenAt = Date.now();
    await sleep(freezeMs);
    while (!cancelled && Date.now() - frozenAt < FREEZE_MAX_MS && !(await seen().catch(() => false))) await sleep(250);
    thaw();
    freeze.forMs = Date.now() - frozenAt;
    await until(0.6);
    const killed = clusterWorkers(service).find((worker) => worker.id !== victim.id);
    if (cancelled || killed === undefined || !signal(killed.pid, 'SIGKILL')) return;
    events.push({ what: 'killed', ...killed, at: seconds() });
    log(`${seconds()}: worker ${killed.id} (pid ${killed.pid}) killed with SIGKILL; the primary starts another`);
  })();
  return {
    events,
    done,
    cancel() {
      cancelled = true;
      thaw();
    },
  };
}

/** Whether Prometheus has the clustered service's not-answering alert pending (or firing): it saw the freeze. */
export async function freezeSeen(prometheus, service) {
  const alerts = await prometheus.query(
    `ALERTS{alertname="RoutemeterClusterWorkersNotAnswering",job="${service.job}"}`,
  );
  return alerts.length > 0;
}

/** The lines that tell what Prometheus saw of the clustered service through the faults. */
export async function clusterReport(prometheus, service, faults, traffic) {
  await faults.done;
  const job = `job="${service.job}"`;
  const window = `[${Math.ceil(traffic.elapsedMs / 1000) + 60}s]`;
  const value = async (expr) => Number((await prometheus.query(expr))[0]?.value[1] ?? Number.NaN);
  const [resets, counted, fewest, workers] = await Promise.all([
    value(`sum(resets(http_requests_total{${job}}${window}))`),
    value(`sum(http_requests_total{${job}})`),
    value(`min_over_time(routemeter_cluster_workers_answered{${job}}${window})`),
    value(`max_over_time(routemeter_cluster_workers{${job}}${window})`),
  ]);
  const answered = Object.values(traffic.counts[service.job]).reduce((sum, route) => sum + route.requests, 0);
  const frozen = faults.events.find((event) => event.what === 'frozen');
  const killed = faults.events.find((event) => event.what === 'killed');
  const lines = [
    `${service.job} ran as ${clusterWorkers(service).length} workers behind one primary (cluster.js), which Prometheus scraped:`,
    ...faults.events.map(
      (event) =>
        `  ${event.at.padEnd(7)} worker ${event.id} ${event.what === 'frozen' ? `frozen for ${(event.forMs / 1000).toFixed(1)} s` : 'killed, and replaced'}`,
    ),
    `Counter resets in http_requests_total: ${resets}${resets === 0 ? ' (through the freeze, the kill and the restart)' : ''}.`,
    `Requests counted: ${counted} of the ${answered} ${service.job} answered (${((counted / answered) * 100).toFixed(1)}%)` +
      (killed ? '; what a killed worker served after its last answer to the primary is lost.' : '.'),
    `Workers answering the primary: as few as ${fewest} of ${workers} (routemeter_cluster_workers_answered).`,
  ];
  if (frozen !== undefined) {
    const stale = await value(`sum_over_time(routemeter_cluster_worker_stale{${job},worker="${frozen.id}"}${window})`);
    lines.push(
      `Worker ${frozen.id} was served stale in ${stale} scrape(s) (routemeter_cluster_worker_stale): its last counts, none of its gauges; \`up\` stayed 1.`,
    );
    const states = await prometheus.query(
      `max by (alertstate) (max_over_time(ALERTS{alertname="RoutemeterClusterWorkersNotAnswering",${job}}${window}))`,
    );
    const seen = states.map((state) => state.metric.alertstate).join(' then ');
    lines.push(
      `Alert RoutemeterClusterWorkersNotAnswering: ${seen === '' ? 'not seen' : `${seen} while it was frozen`} (it fires once that lasts 1 minute).`,
    );
  }
  return lines.join('\n');
}
