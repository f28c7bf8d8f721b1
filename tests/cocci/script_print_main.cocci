@r@
expression E;
position p;
@@
legacy_alloc@p(E)

@script:python@
p << r.p;
@@
cocci.print_main("legacy allocation", p)

@@
expression r.E;
position r.p;
@@
- legacy_alloc@p(E)
+ modern_alloc(E)
