"""IMPC ABR data: schema, readers, validation, preprocessing and the synthetic generator.

Plain Python (pandas/numpy); no Kedro imports, so every step can be used and tested alone.
"""
