@@
expression E;
@@
  send(...,
- E, 0)
+ E, FLAGS_NONE)
