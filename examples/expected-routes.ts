/**
 * The route labels the example services must produce for the demo's traffic, written out by hand
 * (not derived from examples/lib/traffic.mjs) so that the tests check the traffic and the labels.
 */
export const EXPECTED_ROUTES = [
  '#unmatched',
  '/orders',
  '/orgs/:org/repos/:repo',
  '/orgs/:org/repos/:repo/stars',
  '/slow',
  '/stream',
  '/users/:id',
];
