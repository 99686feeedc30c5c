; Definitions, imports and references of Lua, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.
; `function T.f()` is a function of T, `function T:f()` a method of T.

(function_declaration name: (identifier) @name) @definition.function

(function_declaration
  name: (dot_index_expression table: (_) @scope field: (identifier) @name)) @definition.function

(function_declaration
  name: (method_index_expression table: (_) @scope method: (identifier) @name)) @definition.method

(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @import.name)
    (expression_list
      value: (function_call
        name: (identifier) @_require
        arguments: [
          (arguments . (string content: (string_content) @import.module))
          (string content: (string_content) @import.module)
        ])))
  (#eq? @_require "require")) @import

(function_call
  name: (identifier) @_require
  arguments: [
    (arguments . (string content: (string_content) @import.module))
    (string content: (string_content) @import.module)
  ]
  (#eq? @_require "require")) @import

; References

(identifier) @reference

(parameters name: (identifier) @local)
(variable_declaration (assignment_statement (variable_list name: (identifier) @local)))
(variable_declaration (variable_list name: (identifier) @local))
(for_generic_clause (variable_list name: (identifier) @local))
(for_numeric_clause name: (identifier) @local)
(field name: (identifier) @local)
