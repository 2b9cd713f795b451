// The Fastify adapter is being written (issue 4); this placeholder keeps the workspace building.
export {};
