@@
expression E;
@@
g_free(E);
