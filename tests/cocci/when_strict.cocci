@@
expression E;
@@
  E = obtain();
  ... when strict
- forget(E);
