@@
expression E;
@@
  lock(E);
  ...
- unlock(E);
+ unlock_fast(E);
