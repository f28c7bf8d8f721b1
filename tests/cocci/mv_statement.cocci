@@
expression E;
statement S;
@@
- if (E == NULL) S
+ if (!E) S
