// reports: 4 6
@@
expression E;
@@
* E = g_malloc(...);
  ...
* g_free(E);
