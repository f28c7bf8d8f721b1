// standard.iso: `X == NULL` also matches `NULL == X` and `!X`.
// reports: 3 6 9 12
@@
expression X;
@@
* X == NULL
