@@
expression A, B;
@@
  configure(A,
-           0,
            B)
