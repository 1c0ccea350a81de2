"""The bundled catalog and the tensor tables synthesized from architecture facts."""
