"""Reading a dataset safely: the competition's layout, its files and its formats.

- :mod:`~eda_lib.dataset.index`: the folder layout (splits, labels, twins, masks) and
  every file that does not fit it, without opening an image;
- :mod:`~eda_lib.dataset.images`: PNG decoding with the header checked first, and the
  one validator of image arrays (:func:`~eda_lib.dataset.images.check_pixels`);
- :mod:`~eda_lib.dataset.masks`: ``.npy`` instance masks, loaded without pickle and
  normalised by named rules;
- :mod:`~eda_lib.dataset.metric`: the competition's annotation (RLE) and its score, oF1;
- :mod:`~eda_lib.dataset.demo`: a generated dataset in the same layout.

Nothing here writes into a data folder; the demo generator writes only a new one.
"""
