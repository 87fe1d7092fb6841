"""Images: a class-conditional diffusion model on 8×8 digits — sample per class, up-sample, inpaint, evaluate.

Run from the repository root (about 10 minutes on 2 CPU cores: two fits)::

    python examples/digits.py

It writes ``digits_threes.png`` (64 generated threes), ``digits_inpainted.png``
(masked test digits and their completions) and ``digits_report.html`` (the
figures, and real beside synthetic images for every class).
"""

import numpy as np
from sklearn.model_selection import train_test_split

from synthaug import DiffusionSampler
from synthaug.datasets import load_digits
from synthaug.evaluation import evaluate_images
from synthaug.plotting import image_grid

X, y = load_digits(return_X_y=True)                       # (1797, 1, 8, 8) uint8, labels 0..9
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=540, stratify=y, random_state=0)

model = DiffusionSampler(random_state=0).fit(X_train, y_train)   # U-Net DDPM, label dropout for guidance

threes, _ = model.sample(64, y=3)                          # (64, 1, 8, 8) uint8, all threes
image_grid(threes, path="digits_threes.png")

keep = (y_train != 7) | (np.cumsum(y_train == 7) <= 10)    # make 7 rare: 10 images left
X_res, y_res = model.fit_resample(X_train[keep], y_train[keep])
print("class counts after fit_resample:", np.bincount(y_res).tolist())

holes = X_test[:8].astype(float)                           # NaN marks what to fill (0..255 scale)
holes[:, :, :4] = np.nan                                   # hide the top half
filled = model.impute(holes)
shown = np.concatenate([np.nan_to_num(holes, nan=128), filled]).astype(np.uint8)
image_grid(shown, path="digits_inpainted.png", ncols=8)   # masked (grey), then completed

X_new, y_new = model.sample(len(y_train), y=y_train, random_state=1)
report = evaluate_images(X_train, X_new, y_real=y_train, y_synthetic=y_new, holdout=X_test, y_holdout=y_test)
print(report)
report.to_html("digits_report.html")
