@@
expression E;
@@
  begin(E);
  ...
- end(E);
+ finish(E);
