// reports: 4 6
@@
expression E;
@@
* E = g_malloc(...);
  ... when != g_free(E)
* return ...;
