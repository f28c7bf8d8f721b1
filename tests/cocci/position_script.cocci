@r@
position p;
@@
mark@p(...);

@script:python@
p << r.p;
@@
if int(p[0].line) != 4:
    cocci.include_match(False)

@@
position r.p;
@@
- mark@p(...);
+ marked();
