// A change inside one declarator of several; code added after the declaration cannot split it (no match there).
@@
type T;
identifier x;
constant C;
@@
  T x =
- C
+ DEFAULT_LIMIT
  ;

@@
type T;
identifier x;
expression E;
@@
  T x = E;
+ trace_init(x);
