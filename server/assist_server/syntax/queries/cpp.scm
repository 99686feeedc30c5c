; Definitions, imports and references of C++, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.
; Namespaces are not captured: what they hold counts as top level.

(function_definition
  declarator: [
    (function_declarator
      declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name))
    (reference_declarator
      (function_declarator
        declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name))
  ]) @definition.function

(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier scope: (_) @scope name: (_) @name))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier scope: (_) @scope name: (_) @name)))
    (reference_declarator
      (function_declarator declarator: (qualified_identifier scope: (_) @scope name: (_) @name)))
  ]) @definition.method

(class_specifier name: (type_identifier) @name body: (_)) @definition.class

(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct

(union_specifier name: (type_identifier) @name body: (_)) @definition.struct

(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum

(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_))]
  declarator: (type_identifier) @name) @definition.struct

(type_definition declarator: (type_identifier) @name) @definition.type

(alias_declaration name: (type_identifier) @name) @definition.type

(preproc_def name: (identifier) @name) @definition.constant

(translation_unit
  (declaration
    (type_qualifier) @_const
    declarator: (init_declarator declarator: (identifier) @name)) @definition.constant
  (#match? @_const "^const(expr)?$"))

(namespace_definition
  body: (declaration_list
    (declaration
      (type_qualifier) @_const
      declarator: (init_declarator declarator: (identifier) @name)) @definition.constant)
  (#match? @_const "^const(expr)?$"))

(preproc_include path: (_) @import.module) @import

(using_declaration (qualified_identifier scope: (_) @import.module name: (_) @import.name)) @import

; References

(identifier) @reference
(field_identifier) @reference
(type_identifier) @reference
(namespace_identifier) @reference

(parameter_declaration declarator: (identifier) @local)
(parameter_declaration declarator: (reference_declarator (identifier) @local))
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @local))
(optional_parameter_declaration declarator: (identifier) @local)
(init_declarator declarator: (identifier) @local)
(declaration declarator: (identifier) @local)
(field_declaration declarator: (field_identifier) @local)
(enumerator name: (identifier) @local)
(type_parameter_declaration (type_identifier) @local)
