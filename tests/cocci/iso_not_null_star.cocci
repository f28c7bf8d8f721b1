// standard.iso: `X != NULL` also matches any X used as a test (conditions, `&&`, `!`, `?:`), not `last = buf`.
// reports: 3 6 9 12 15 18 21 23
@@
expression X;
@@
* X != NULL
