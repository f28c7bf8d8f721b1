// spatch: fails because it finds no token to attach the added code to when a whole inline disjunction is replaced
@@
expression E;
@@
- \( E == NULL \| NULL == E \)
+ !E
