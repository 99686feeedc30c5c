; Definitions, imports and references of shell scripts (bash), for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(function_definition name: (word) @name) @definition.function

(program
  (variable_assignment name: (variable_name) @name) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

(command
  name: (command_name (word) @_source)
  .
  argument: (_) @import.module
  (#match? @_source "^(source|\\.)$")) @import

; References

(command_name (word) @reference)
((variable_name) @reference
  (#not-match? @reference "^[0-9]+$"))

(variable_assignment name: (variable_name) @local)
(for_statement variable: (variable_name) @local)
