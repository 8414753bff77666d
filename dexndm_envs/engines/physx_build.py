"""Build a PhysX (SAPIEN) scene from a compiled MuJoCo model.

SAPIEN 3 reads URDF, not MJCF; every collision geom of the project's scenes is a primitive, so
the scene is built from the compiled `mujoco.MjModel` itself, after every edit the environment
made to it (wrist pose, randomised masses, gains and friction):

- A body on the world with hinge-jointed descendants (the palm) becomes the fixed root of an
  articulation; each hinge body a revolute link. Its joint frame sits at the hinge with its x
  axis along the hinge axis (PhysX turns revolute joints about x). Limits and armature carry
  over; position actuators become PhysX joint drives (stiffness kp, damping kv, force limit the
  actuator's force range); any other actuator's force is applied as a joint torque.
- A free-jointed body (the object, chaos-box balls) becomes a dynamic rigid body; a body
  welded to the world (walls) a static one. Mass, centre of mass and principal inertia carry
  over from the model; shapes do not add mass.
- Capsules, cylinders and planes turn from MuJoCo's z axis to PhysX's x axis. PhysX has no
  ellipsoid: one becomes the convex hull of ELLIPSOID_POINTS points on its surface (inside
  it, by at most 2 % of a radius). A mesh becomes the convex hull of its vertices, the shape
  MuJoCo collides with too.
- Collision filtering reproduces MuJoCo's: contype/conaffinity become SAPIEN's contact-type and
  affinity words (a pair collides if either one's type meets the other's affinity, as in
  MuJoCo); pairs MuJoCo leaves out though their bits match (parent and child, <exclude>, two
  bodies fixed to the world) each get a bit of their own in the ignore word.
- Friction per the world profile's mapping (engines.world.WorldProfile.friction_mapping).

`build_scene` returns a `PhysxScene`: the SAPIEN objects and the index maps between them and
the model. dexndm_envs.engines.physx steps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from dexndm_envs.engines.physx_shapes import (
    X_TO_Z,
    ConversionError,
    attach_shapes,
    collision_geoms,
    geom_frictions,
    ignore_bits,
    physx,
    pose,
    require_sapien,
    sapien,
    set_mass,
)
from dexndm_envs.engines.world import WorldProfile


@dataclass
class PhysxScene:
    """A built scene and its maps to the MuJoCo model it came from."""

    scene: sapien.Scene
    system: physx.PhysxCpuSystem
    articulation: physx.PhysxArticulation | None
    links: dict[int, physx.PhysxArticulationLinkComponent]
    """MuJoCo body id -> its articulation link (the root included)."""
    joint_qpos: np.ndarray
    """MuJoCo qpos address of each articulation dof, in PhysX's order."""
    joint_dof: np.ndarray
    """MuJoCo dof address of each articulation dof, in PhysX's order."""
    free_bodies: list[tuple[int, physx.PhysxRigidDynamicComponent]] = field(default_factory=list)
    """(MuJoCo body id, its rigid body) of every free-jointed body."""
    ignore_pairs: list[tuple[int, int]] = field(default_factory=list)
    """Body pairs given an ignore bit (MuJoCo excludes them though their bits match)."""


def _x_to_axis(axis: np.ndarray) -> np.ndarray:
    """A quaternion taking the x axis to `axis` (unit, in the body frame)."""
    z_to_axis = np.zeros(4)
    mujoco.mju_quatZ2Vec(z_to_axis, np.asarray(axis, np.float64))
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, z_to_axis, np.array(X_TO_Z))
    return out


# ---------------------------------------------------------------- the scene
def _configure(model: mujoco.MjModel, world: WorldProfile) -> None:
    physx.set_scene_config(
        gravity=np.asarray(model.opt.gravity, np.float32),
        enable_pcm=world.enable_pcm,
        enable_tgs=world.solver == "tgs",
    )
    physx.set_body_config(
        solver_position_iterations=world.position_iterations,
        solver_velocity_iterations=world.velocity_iterations,
        sleep_threshold=0.0,
    )
    physx.set_shape_config(contact_offset=world.contact_offset_m, rest_offset=world.rest_offset_m)


def _children(model: mujoco.MjModel) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {b: [] for b in range(model.nbody)}
    for body in range(1, model.nbody):
        children[int(model.body_parentid[body])].append(body)
    return children


def _joint_of(model: mujoco.MjModel, body: int) -> int | None:
    """The body's one joint, or None; ConversionError for several."""
    count = int(model.body_jntnum[body])
    if count > 1:
        raise ConversionError(f"body {model.body(body).name} has {count} joints; PhysX takes one")
    return int(model.body_jntadr[body]) if count else None


def build_scene(model: mujoco.MjModel, data: mujoco.MjData, world: WorldProfile) -> PhysxScene:
    """A PhysX scene of model in the state of data (call after mj_forward on data)."""
    require_sapien()
    _configure(model, world)
    system = physx.PhysxCpuSystem()
    system.timestep = float(model.opt.timestep) / world.substeps
    scene = sapien.Scene([system])
    frictions = geom_frictions(model, world)
    words, pairs = ignore_bits(model)
    built = PhysxScene(scene, system, None, {}, np.zeros(0, int), np.zeros(0, int), [], pairs)
    children = _children(model)
    for body in children[0]:
        joint = _joint_of(model, body)
        if joint is not None and model.jnt_type[joint] == int(mujoco.mjtJoint.mjJNT_FREE):
            _add_free_body(built, model, data, body, world, frictions, words)
        elif joint is not None:
            raise ConversionError(
                f"body {model.body(body).name} hangs on the world by a "
                f"{mujoco.mjtJoint(model.jnt_type[joint]).name}; PhysX scenes take free "
                "bodies, fixed bodies and fixed-root articulations"
            )
        elif children[body]:
            if built.articulation is not None:
                raise ConversionError("the PhysX scene takes one articulation (one hand)")
            _add_articulation(built, model, data, body, children, world, frictions, words)
        else:
            _add_static(scene, model, data, body, world, frictions, words)
    _add_static(scene, model, data, 0, world, frictions, words)  # the world's own geoms
    return built


def _add_static(scene, model, data, body, world, frictions, words) -> None:
    if not np.any(model.geom_bodyid[collision_geoms(model)] == body):
        return
    component = physx.PhysxRigidStaticComponent()
    attach_shapes(component, model, body, world, frictions, words)
    entity = sapien.Entity()
    entity.add_component(component)
    entity.pose = pose(data.xpos[body], data.xquat[body])
    scene.add_entity(entity)


def _add_free_body(built, model, data, body, world, frictions, words) -> None:
    if int(model.body_parentid[body]) != 0 or np.any(model.body_parentid[1:] == body):
        raise ConversionError(f"free body {model.body(body).name} has children; PhysX cannot")
    component = physx.PhysxRigidDynamicComponent()
    attach_shapes(component, model, body, world, frictions, words)
    set_mass(component, model, body)
    component.set_max_depenetration_velocity(world.max_depenetration_velocity_m_s)
    component.set_angular_damping(world.angular_damping)
    component.set_linear_damping(world.linear_damping)
    entity = sapien.Entity()
    entity.add_component(component)
    entity.pose = pose(data.xpos[body], data.xquat[body])
    built.scene.add_entity(entity)
    built.free_bodies.append((body, component))


def _add_articulation(built, model, data, root, children, world, frictions, words) -> None:
    entities, order = [], [root]
    for body in order:  # breadth first: a parent is built before its children
        order.extend(children[body])
    for body in order:
        parent = None if body == root else built.links[int(model.body_parentid[body])]
        link = physx.PhysxArticulationLinkComponent(parent)
        link.name = model.body(body).name
        attach_shapes(link, model, body, world, frictions, words)
        set_mass(link, model, body)
        link.set_max_depenetration_velocity(world.max_depenetration_velocity_m_s)
        if body == root:
            link.joint.type = "fixed"
        else:
            _set_joint(link, model, body)
        entity = sapien.Entity()
        entity.add_component(link)
        entities.append(entity)
        built.links[body] = link
    entities[0].pose = pose(data.xpos[root], data.xquat[root])
    for entity in entities:
        built.scene.add_entity(entity)
    articulation = built.links[root].articulation
    # PhysX orders the dofs its own way: map them back through the links' names
    bodies = [model.body(j.child_link.name).id for j in articulation.get_active_joints()]
    hinges = [int(model.body_jntadr[b]) for b in bodies]
    built.articulation = articulation
    built.joint_qpos = np.array([model.jnt_qposadr[j] for j in hinges], dtype=int)
    built.joint_dof = np.array([model.jnt_dofadr[j] for j in hinges], dtype=int)
    _set_drives(built, model)


def _set_joint(link, model: mujoco.MjModel, body: int) -> None:
    joint = _joint_of(model, body)
    if joint is None or model.jnt_type[joint] != int(mujoco.mjtJoint.mjJNT_HINGE):
        raise ConversionError(
            f"body {model.body(body).name} of the articulation needs one hinge joint"
        )
    if abs(float(model.qpos0[model.jnt_qposadr[joint]])) > 0.0:
        raise ConversionError(f"joint {model.joint(joint).name} has a nonzero reference angle")
    in_child = pose(model.jnt_pos[joint], _x_to_axis(model.jnt_axis[joint]))
    link.joint.type = "revolute"
    link.joint.pose_in_child = in_child
    link.joint.pose_in_parent = pose(model.body_pos[body], model.body_quat[body]) * in_child
    if model.jnt_limited[joint]:
        link.joint.limit = np.asarray(model.jnt_range[joint], np.float32).reshape(1, 2)
    dof = int(model.jnt_dofadr[joint])
    link.joint.armature = np.array([model.dof_armature[dof]], np.float32)
    link.joint.set_friction(0.0)  # MuJoCo's frictionloss is applied by the engine (world profile)


def _set_drives(built: PhysxScene, model: mujoco.MjModel) -> None:
    """Position actuators become joint drives; others get stiffness and damping 0."""
    joints = built.articulation.get_active_joints()
    for joint in joints:
        joint.set_drive_properties(0.0, 0.0, 0.0)
    for actuator in range(model.nu):
        slot = drive_slot(built, model, actuator)
        if slot is None:
            continue
        kp, kv = (
            float(model.actuator_gainprm[actuator, 0]),
            -float(model.actuator_biasprm[actuator, 2]),
        )
        limit = (
            float(np.max(np.abs(model.actuator_forcerange[actuator])))
            if model.actuator_forcelimited[actuator]
            else 3.4e38
        )
        joints[slot].set_drive_properties(kp, kv, limit, "force")


def is_position_servo(model: mujoco.MjModel, actuator: int) -> bool:
    """A position actuator: force kp (ctrl - q) - kv qdot on a hinge, gear 1."""
    gain, bias = model.actuator_gainprm[actuator], model.actuator_biasprm[actuator]
    return (
        int(model.actuator_biastype[actuator]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
        and bias[1] < 0.0
        and math.isclose(gain[0], -bias[1], rel_tol=1e-12)
        and bias[0] == 0.0
    )


def drive_slot(built: PhysxScene, model: mujoco.MjModel, actuator: int) -> int | None:
    """The articulation dof a position actuator drives, or None for another actuator.

    Raises:
        ConversionError: for an actuator that is not on a hinge of the articulation with gear 1.
    """
    if int(model.actuator_trntype[actuator]) != int(mujoco.mjtTrn.mjTRN_JOINT):
        raise ConversionError(f"actuator {model.actuator(actuator).name} is not on a joint")
    if not np.allclose(model.actuator_gear[actuator], [1, 0, 0, 0, 0, 0]):
        raise ConversionError(f"actuator {model.actuator(actuator).name} has a gear other than 1")
    qpos = model.jnt_qposadr[model.actuator_trnid[actuator, 0]]
    slots = np.flatnonzero(built.joint_qpos == qpos)
    if len(slots) != 1:
        raise ConversionError(f"actuator {model.actuator(actuator).name} drives no hand joint")
    return int(slots[0]) if is_position_servo(model, actuator) else None
