// The warnings every middleware adapter gives for the same misuse, worded once.

/** `app.use(routemeter)`: the factory passed where its middleware belongs. */
export const UNCALLED_FACTORY_WARNING =
  'routemeter: `app.use(routemeter)` passes the factory itself, so nothing is recorded: call it, `app.use(routemeter())`';

/** A request that reached a second routemeter of the same app, already being recorded by the first. */
export const RECORDED_BY_ANOTHER_WARNING =
  'routemeter: a request reached this middleware already recorded by another routemeter (an earlier `app.use(routemeter())`, or RoutemeterModule in a Nest app): it is counted once, by the first, and the options of this one are not used: keep one routemeter per app';
