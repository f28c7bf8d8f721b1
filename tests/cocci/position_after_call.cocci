@r@
expression fmt;
position p;
@@
(
report_a(fmt, ...)@p
|
report_b(fmt)@p
)

@@
position r.p;
expression r.fmt;
@@
- report_a(fmt, ...)@p
+ report_a_checked(fmt)
