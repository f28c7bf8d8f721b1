@@
expression S;
identifier fld;
@@
- S->fld = 0;
+ S->fld = DEFAULT;
