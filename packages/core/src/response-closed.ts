import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Calls back once when a Node response is done with, finished or not: on its `'close'`, which Node emits
 * for every response that reached its connection. A pipelined request queued behind another never gets
 * there if the client closes the connection first, and Node then emits nothing on its response; it does
 * destroy the queued request, so its `'close'` tells. A queued request whose body was read to the end has
 * closed already: its response waits on the connection's `'close'` instead (one listener per connection).
 */
export function onResponseClosed(req: IncomingMessage, res: ServerResponse, callback: () => void): void {
  const socket = req.socket as Socket | null;
  // A response without a socket when its request arrives is queued behind another on the connection.
  if (res.socket !== null || socket === null || socket.destroyed) {
    res.on('close', callback);
    return;
  }
  // Node 24 emits 'close' on a queued response lost with its connection too: whichever comes first counts.
  let called = false;
  function closedOnce(): void {
    if (called) return;
    called = true;
    callback();
  }
  res.on('close', closedOnce);
  req.on('close', function requestClosed() {
    // A response that reached the connection gets Node's 'close' (or has had it, if finished).
    if (called || res.socket !== null || res.writableFinished) return;
    if (socket.destroyed) closedOnce();
    else waitOnConnection(socket, res, closedOnce);
  });
}

const waiting = new WeakMap<Socket, Set<() => void>>();

/** Calls `lost` when `socket` closes unless `res` has reached it by then; rare: a body read while queued. */
function waitOnConnection(socket: Socket, res: ServerResponse, lost: () => void): void {
  let responses = waiting.get(socket);
  if (responses === undefined) {
    const onSocket = new Set<() => void>();
    socket.once('close', function closeWaitingResponses() {
      waiting.delete(socket);
      for (const lostOne of onSocket) lostOne();
    });
    waiting.set(socket, onSocket);
    responses = onSocket;
  }
  const entry = (): void => {
    if (res.socket === null && !res.writableFinished) lost();
  };
  responses.add(entry);
  res.once('close', () => responses.delete(entry));
}
