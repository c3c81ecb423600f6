"""Knowledge distillation: the student learns the teacher's softened outputs plus the hard labels."""
from __future__ import annotations

import time

from ..errors import OptimizationArgumentError, OptimizationError
from ..models.keras import load_training_model
from .record import StepRecord
from .training import (FitSettings, accuracy, fit, infer_loss,
                       outputs_are_probabilities, prepare)


def distill(student, teacher, train, *, val=None, temperature: float = 4.0, alpha: float = 0.1,
            settings: FitSettings | None = None):
    """Fine-tune ``student`` on ``alpha * hard loss + (1 - alpha) * T^2 * KL(teacher_T || student_T)``.

    ``teacher`` is a model or a path; its output shape must equal the student's. Returns
    ``(student, StepRecord)``; the student keeps its own architecture (no wrapper to strip).
    """
    settings = settings or FitSettings()
    started = time.perf_counter()
    if not float(temperature) > 0:
        raise OptimizationArgumentError(f"temperature must be positive, got {temperature}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise OptimizationArgumentError(f"alpha must be in [0, 1] (weight of the hard labels), got {alpha}")
    student, notes = load_training_model(student, what="student model")
    teacher, teacher_notes = load_training_model(teacher, what="teacher model")
    if tuple(teacher.output_shape[1:]) != tuple(student.output_shape[1:]):
        raise OptimizationError(
            f"teacher output shape {tuple(teacher.output_shape[1:])} differs from the student's "
            f"{tuple(student.output_shape[1:])}: distillation needs a teacher trained on the same "
            "classes")
    if tuple(teacher.input_shape[1:]) != tuple(student.input_shape[1:]):
        raise OptimizationError(
            f"teacher input shape {tuple(teacher.input_shape[1:])} differs from the student's "
            f"{tuple(student.input_shape[1:])}: both must read the same samples")
    student, _, train, val = prepare(student, train, val)

    hard_loss, metrics = infer_loss(student, train[1], settings)
    distiller = _distiller(student, teacher, hard_loss, float(temperature), float(alpha))
    from .._compat import keras

    distiller.compile(optimizer=keras().optimizers.Adam(settings.learning_rate), metrics=metrics)
    teacher_accuracy = accuracy(teacher, val)
    epochs_run, logs = fit(distiller, train, val, settings, step="distill", metrics=metrics,
                           compile_model=False)
    record = StepRecord(
        step="distill",
        params={"temperature": float(temperature), "alpha": float(alpha),
                "teacher": getattr(teacher, "name", "teacher"),
                "teacher_params": int(teacher.count_params()),
                "student_params": int(student.count_params())},
        wall_time_s=round(time.perf_counter() - started, 3), epochs_run=epochs_run,
        val_accuracy=accuracy(student, val), train_loss=logs.get("loss"),
        notes=notes + teacher_notes)
    if teacher_accuracy is not None:
        record.notes.append(f"teacher val accuracy {teacher_accuracy:.4f}")
    record.checks.append(f"teacher and student outputs both {tuple(student.output_shape[1:])}")
    return student, record


def _distiller(student, teacher, hard_loss, temperature, alpha):
    from .._compat import keras, tf

    k = keras()
    tf_ = tf()
    student_probs = outputs_are_probabilities(student)
    teacher_probs = outputs_are_probabilities(teacher)
    teacher.trainable = False

    def logits(outputs, are_probabilities):
        # log p differs from the logits by a per-sample constant, which softmax ignores.
        if are_probabilities:
            return tf_.math.log(tf_.clip_by_value(outputs, 1e-7, 1.0))
        return outputs

    class Distiller(k.Model):
        def __init__(self):
            super().__init__()
            self.student = student
            self.teacher = teacher
            self.loss_tracker = k.metrics.Mean(name="loss")

        def call(self, inputs, training=False):
            return self.student(inputs, training=training)

        @property
        def metrics(self):
            return [self.loss_tracker] + self.compiled_metrics.metrics

        def _distillation_loss(self, x, y, training):
            teacher_soft = tf_.nn.softmax(
                logits(self.teacher(x, training=False), teacher_probs) / temperature)
            predictions = self.student(x, training=training)
            student_log_soft = tf_.nn.log_softmax(logits(predictions, student_probs) / temperature)
            soft = tf_.reduce_mean(tf_.reduce_sum(
                teacher_soft * (tf_.math.log(tf_.clip_by_value(teacher_soft, 1e-7, 1.0))
                                - student_log_soft), axis=-1))
            hard = hard_loss(y, predictions)
            return alpha * hard + (1.0 - alpha) * soft * temperature ** 2, predictions

        def train_step(self, data):
            x, y = data
            with tf_.GradientTape() as tape:
                loss, predictions = self._distillation_loss(x, y, True)
            gradients = tape.gradient(loss, self.student.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.student.trainable_variables))
            self.loss_tracker.update_state(loss)
            self.compiled_metrics.update_state(y, predictions)
            return {metric.name: metric.result() for metric in self.metrics}

        def test_step(self, data):
            x, y = data
            loss, predictions = self._distillation_loss(x, y, False)
            self.loss_tracker.update_state(loss)
            self.compiled_metrics.update_state(y, predictions)
            return {metric.name: metric.result() for metric in self.metrics}

    return Distiller()
