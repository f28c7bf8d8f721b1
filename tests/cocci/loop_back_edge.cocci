// `...` follows a loop's back edge: after the unlock, the next iteration's lock is reachable.
// reports: 4 12 22
@@
expression E;
@@
  chan_unlock(E);
  ...
* chan_lock(E);
