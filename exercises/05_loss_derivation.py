# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # Exercises 05 · Gradients, a training loop, and what a request may carry
#
# Five exercises on `notebooks/05_loss_derivation.ipynb` (about 60 min in all). Write your answer
# in the cell marked `# your code here`, run it, then run the check below it: the check says
# "passed", or explains what is wrong. The checks live in `llmrec_ref.checks.ch05`; they try your
# answer on fresh random cases each time, so an answer fitted to one example does not pass.
#
# Use torch only (not `llmrec_ref.losses`, `llmrec_ref.metrics` or `torch.autograd`: the point is
# to derive the gradients yourself, then let the check compare them with autograd). None of the
# answers is a cell of the chapter: each asks for a step further.

# %%
import torch

from llmrec_ref.checks import ch05

# %% [markdown]
# ## Exercise 1 · ★★ The BPR gradient, down to the embeddings (15 min)
#
# The chapter derives BPR's gradient with respect to the *scores*. A matrix-factorisation model
# makes its scores from embeddings: user $b$ has a vector $u_b$, the positive item $p_b$, the
# negative item $n_b$, and $s^+_b = u_b^\top p_b$, $s^-_b = u_b^\top n_b$. With
# $x_b = s^+_b - s^-_b$,
# $$L = \frac1B\sum_b -\log\sigma(x_b).$$
# Derive $\partial L/\partial u_b$, $\partial L/\partial p_b$ and $\partial L/\partial n_b$ by the
# chain rule (what is $\partial x_b/\partial u_b$?), then write `bpr_embedding_grads(u, p, n)`
# returning the tuple `(grad_u, grad_p, grad_n)` for `(B, d)` tensors, without autograd and
# without changing the inputs.

# %% tags=["stub"]
# your code here

# %%
ch05.ex1(globals())

# %% [markdown]
# ## Exercise 2 · ★ A top-K list that is always K long (10 min)
#
# Section 7 removes the items a user has seen before ranking (`top_k(..., exclude=seen)`). A
# carousel must show K items even to a user who has seen almost everything. Write
# `top_k_fill(scores, k, seen)`: `scores` is a float `(n_users, n_items)` tensor (scores may be
# negative), `seen` a boolean tensor of the same shape (True = the user already interacted with
# the item). Return the `(n_users, k)` item indices: the unseen items first, best first; if there
# are fewer than k, the list goes on with the seen items, also best first. On equal scores the
# lower index comes first (the rule `llmrec_ref.metrics` uses). Do not modify `scores` or `seen`.
# (Hint: two stable sorts compose.)

# %% tags=["stub"]
# your code here

# %%
ch05.ex2(globals())

# %% [markdown]
# ## Exercise 3 · ★★★ A training loop that picks its own learning rate (25 min)
#
# Section 1.1 ran gradient descent on the mean squared error with rates set by hand. Add an L2
# penalty (ridge regression):
# $$L(\theta) = \frac1N\sum_n (a_n^\top\theta - y_n)^2 + \alpha\lVert\theta\rVert^2 .$$
# Write `train_ridge(A, y, alpha, steps)` that starts from $\theta_0 = 0$, takes `steps`
# full-batch gradient-descent steps $\theta \leftarrow \theta - \eta\nabla L(\theta)$ and returns
# `(theta, losses)` with `losses` the `steps + 1` values $L(\theta_0), \dots, L(\theta_{steps})$.
# The function chooses $\eta$ itself, for whatever `A` and `alpha` it is given: derive the
# gradient and the Hessian of this $L$, and pick a rate that converges on every problem (the
# check tries inputs of very different scales and penalties, and 400 steps; it also checks that
# one step from 0 is a gradient step, so solving for the minimum in closed form does not pass).

# %% tags=["stub"]
# your code here

# %%
ch05.ex3(globals())

# %% [markdown]
# Your loop on a noiseless line, three penalties: without one it recovers the true weights
# $(1, -2, 0.5)$; the penalty pulls them towards 0, and at $\alpha = 10$ it wins over the fit.

# %% tags=["uses-answer"]
# Uncomment this cell (select it, Ctrl+/) and run it once your answer passes its check.
# gen = torch.Generator().manual_seed(0)
# A_demo = torch.randn(50, 3, generator=gen, dtype=torch.float64) + 2
# y_demo = A_demo @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
# for alpha in (0.0, 0.1, 10.0):
#     theta, losses = train_ridge(A_demo, y_demo, alpha, 400)
#     print(f"alpha = {alpha:5}: loss {losses[0]:.3f} -> {losses[-1]:.4f}, theta = {theta.numpy().round(3)}")

# %% [markdown]
# ## Exercise 4 · ★ What may a request carry? (5 min)
#
# Section 6.2 adds the context of the *request* to the model: what the system knows when a user
# opens the app, before they do anything. For the **MovieLens** model, which of these columns of
# the held-out event may the model read without leaking the answer? Answer with a set
# `MOVIELENS_REQUEST`, chosen among `"user_id"`, `"timestamp"`, `"hour"`, `"weekday"`, `"gap"`
# (seconds since the user's previous rating), `"item_id"`, `"rating"`, `"genres"` (of the item
# rated). Think about how chapter 01 orders ratings typed in the same second, then about what
# section 6.2 measured.

# %% tags=["stub"]
# your code here

# %%
ch05.ex4(globals())

# %% [markdown]
# ## Exercise 5 · ★ Predict before you run (5 min)
#
# Gradient descent on a quadratic loss whose Hessian has eigenvalues 0.5 and 8, with
# $\eta = 0.2$. What happens? Answer `GD_ANSWER = "a"`, `"b"`, `"c"` or `"d"`:
#
# - (a) it converges, and along each eigenvector the distance to the minimum shrinks without
#   changing sign;
# - (b) it converges, and along the steep direction each step overshoots the minimum (a zigzag
#   that shrinks);
# - (c) it diverges along the steep direction;
# - (d) it diverges along the flat direction.
#
# Then check it with section 1.1's formula: one step multiplies the distance along an
# eigenvector by $1 - \eta\lambda$.

# %% tags=["stub"]
# your code here

# %%
ch05.ex5(globals())
