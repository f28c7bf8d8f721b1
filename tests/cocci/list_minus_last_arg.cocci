@@
expression A;
@@
  configure2(A
-            , NULL
  )
