"""From policy files to a compiled policy: located YAML (source), the document's typed models and
their validation (document), and the compiler's semantic checks (compiler)."""
