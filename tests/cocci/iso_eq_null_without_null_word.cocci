@@
expression E;
statement S;
@@
- if (E == NULL) S
+ bail(E);
