"""The pieces of ``--measure-m4`` (``firmware_export.measure_m4`` runs them): ``firmware`` links the export with
the measuring harness into a Cortex-M4 ELF, ``qemu`` runs it on an emulated ``mps2-an386`` and reads what it
printed. TFLM's library comes from ``firmware_export.tflm``; the report text is in ``firmware_export.render``."""

OPTION = "--measure-m4"
