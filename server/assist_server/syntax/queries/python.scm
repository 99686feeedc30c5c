; Definitions, imports and references of Python, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(class_definition name: (identifier) @name) @definition.class

(function_definition name: (identifier) @name) @definition.function

(module
  (expression_statement
    (assignment left: (identifier) @name)) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

(import_statement name: (dotted_name) @import.module) @import

(import_statement
  name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)) @import

(import_from_statement
  module_name: (_) @import.module
  name: (dotted_name) @import.name) @import

(import_from_statement
  module_name: (_) @import.module
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import

(import_from_statement
  module_name: (_) @import.module
  (wildcard_import) @import.name) @import

(future_import_statement "__future__" @import.module name: (dotted_name) @import.name) @import

; References

(identifier) @reference

(parameters (identifier) @local)
(lambda_parameters (identifier) @local)
(default_parameter name: (identifier) @local)
(typed_parameter (identifier) @local)
(typed_default_parameter name: (identifier) @local)
(list_splat_pattern (identifier) @local)
(dictionary_splat_pattern (identifier) @local)
(keyword_argument name: (identifier) @local)
