// `when != x` along a back edge: a use in the loop's update (`step(b)`) is on the path, one after the target is not.
// reports: 6 28
@@
identifier x;
expression P;
@@
  x = pool_take(P);
  ... when != x
* pool_wait(P);
