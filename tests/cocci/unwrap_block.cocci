@@
identifier L;
expression E;
@@
-if (L) {
     report_and_clear(E, L);
-}
