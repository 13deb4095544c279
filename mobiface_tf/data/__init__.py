"""Face preparation and input data: detection, alignment, dataset readers, tf.data pipelines."""
