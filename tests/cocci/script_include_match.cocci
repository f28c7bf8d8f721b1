@r@
identifier fn;
expression E;
position p;
@@
fn@p(E)

@script:python@
fn << r.fn;
@@
if not fn.startswith("do_"):
    cocci.include_match(False)

@@
identifier r.fn;
expression r.E;
position r.p;
@@
- fn@p(E)
+ fn(E, 0)
