// reports: 3 5
@@
expression E;
@@
* g_free(E);
