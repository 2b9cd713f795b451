/** Thrown when routemeter is created with an invalid option; the message names the option. */
export class RoutemeterOptionError extends TypeError {
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`routemeter: option \`${option}\` ${problem}`);
    this.name = 'RoutemeterOptionError';
    this.option = option;
  }
}

/** Thrown when a metric routemeter needs already exists on the registry with another shape. */
export class RoutemeterMetricConflictError extends Error {
  constructor(metricName: string, problem: string) {
    super(`routemeter: metric \`${metricName}\` is already registered ${problem}`);
    this.name = 'RoutemeterMetricConflictError';
  }
}
