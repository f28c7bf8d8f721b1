@r@
identifier ret;
metavariable arg;
position p;
@@
(
    shift_right32@p
|
    shift_right64@p
)(ret, arg, 4);

@@
identifier r.ret;
position r.p;
identifier fn;
@@
- fn@p(ret,
+ fn(ret, ret,
  ...)
