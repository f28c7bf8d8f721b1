@@
expression E;
@@
* E = g_malloc(...);
  ...
* g_free(E);
