@forall@
expression E;
@@
  E = begin_tx();
  ...
- end_tx(E);
+ commit_tx(E);
