@@
expression E;
@@
  E = acquire();
  ...
- drop(E);
+ release(E);
