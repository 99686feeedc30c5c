; Definitions, imports and references of JavaScript (and JSX), for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(class_declaration name: (identifier) @name) @definition.class

(function_declaration name: (identifier) @name) @definition.function

(generator_function_declaration name: (identifier) @name) @definition.function

(class_body (method_definition name: (_) @name) @definition.method)

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [
      (arrow_function body: (_) @body)
      (function_expression body: (_) @body)
      (generator_function body: (_) @body)
    ])) @definition.function

(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [
      (arrow_function body: (_) @body)
      (function_expression body: (_) @body)
      (generator_function body: (_) @body)
    ])) @definition.function

(program
  (lexical_declaration kind: "const" (variable_declarator name: (identifier) @name)) @definition.constant)

(export_statement
  (lexical_declaration kind: "const" (variable_declarator name: (identifier) @name)) @definition.constant)

(import_statement
  (import_clause (identifier) @import.name)
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause (namespace_import (identifier) @import.name))
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause
    (named_imports (import_specifier name: (_) @import.name alias: (_)? @import.alias)))
  source: (string (string_fragment) @import.module)) @import

(import_statement source: (string (string_fragment) @import.module)) @import

(variable_declarator
  name: (identifier) @import.name
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_require "require")) @import

(variable_declarator
  name: (object_pattern
    [
      (shorthand_property_identifier_pattern) @import.name
      (pair_pattern key: (_) @import.name value: (identifier) @import.alias)
    ])
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_require "require")) @import

(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require")) @import

; References

(identifier) @reference
(property_identifier) @reference
(shorthand_property_identifier) @reference

(formal_parameters (identifier) @local)
(formal_parameters (assignment_pattern left: (identifier) @local))
(arrow_function parameter: (identifier) @local)
(variable_declarator name: (identifier) @local)
(pair key: (property_identifier) @local)
