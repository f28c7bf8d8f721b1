@@
expression list ES;
@@
- old_printf(ES)
+ new_printf(ES)
