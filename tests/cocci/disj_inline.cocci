@@
expression E;
@@
- \( E == NULL \| NULL == E \)
+ !E
